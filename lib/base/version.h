/* berth's version: git describe of the tree it was built from ("0.2.0",
 * "0.2.0-3-gabc1234-dirty"), or the project's version and the commit
 * ("0.1.0+gabc1234") without a release tag (cmake/Version.cmake). */
#ifndef BERTH_BASE_VERSION_H
#define BERTH_BASE_VERSION_H

const char *berth_version(void);

#endif
