/* libcurl and libarchive, opened the first time a pull or an unpack needs
 * them (dlopen), not at every start of a program that links lib/image:
 * the two and the forty libraries they bring took 6 ms to map and
 * relocate, which every berthctl command paid, `berthctl run` of a
 * directory included. The same pattern as systemd's optional libraries.
 *
 * Included by client.c and layer.c only, after curl.h and archive.h: each
 * library function they call becomes a call through image_dl's table,
 * filled by image_dl_curl / image_dl_archive (which the entry points call
 * first). */
#pragma once

#include <archive.h>
#include <archive_entry.h>
#include <curl/curl.h>

#include "base/error.h"

#define IMAGE_DL_CURL(X)                                                                           \
    X(curl_global_init)                                                                            \
    X(curl_easy_init)                                                                              \
    X(curl_easy_setopt)                                                                            \
    X(curl_easy_perform)                                                                           \
    X(curl_easy_cleanup)                                                                           \
    X(curl_easy_strerror)                                                                          \
    X(curl_easy_escape)                                                                            \
    X(curl_free)                                                                                   \
    X(curl_slist_append)                                                                           \
    X(curl_slist_free_all)

#define IMAGE_DL_ARCHIVE(X)                                                                        \
    X(archive_read_new)                                                                            \
    X(archive_read_free)                                                                           \
    X(archive_read_support_filter_gzip)                                                            \
    X(archive_read_support_filter_zstd)                                                            \
    X(archive_read_support_format_raw)                                                             \
    X(archive_read_support_format_tar)                                                             \
    X(archive_read_open)                                                                           \
    X(archive_read_open_fd)                                                                        \
    X(archive_read_open_memory)                                                                    \
    X(archive_read_next_header)                                                                    \
    X(archive_read_data)                                                                           \
    X(archive_read_data_block)                                                                     \
    X(archive_error_string)                                                                        \
    X(archive_set_error)                                                                           \
    X(archive_entry_pathname)                                                                      \
    X(archive_entry_filetype)                                                                      \
    X(archive_entry_perm)                                                                          \
    X(archive_entry_uid)                                                                           \
    X(archive_entry_gid)                                                                           \
    X(archive_entry_size)                                                                          \
    X(archive_entry_hardlink)                                                                      \
    X(archive_entry_symlink)                                                                       \
    X(archive_entry_rdevmajor)                                                                     \
    X(archive_entry_rdevminor)                                                                     \
    X(archive_entry_atime)                                                                         \
    X(archive_entry_atime_nsec)                                                                    \
    X(archive_entry_atime_is_set)                                                                  \
    X(archive_entry_mtime)                                                                         \
    X(archive_entry_mtime_nsec)                                                                    \
    X(archive_entry_xattr_reset)                                                                   \
    X(archive_entry_xattr_next)

#define IMAGE_DL_MEMBER(f) __typeof__(f) *f;
struct image_dl {
    IMAGE_DL_CURL(IMAGE_DL_MEMBER)
    IMAGE_DL_ARCHIVE(IMAGE_DL_MEMBER)
};
#undef IMAGE_DL_MEMBER

extern struct image_dl image_dl;

/* Open the library once (thread-safe); an error names the Debian package
 * that has it. */
int image_dl_curl(berth_error **err);
int image_dl_archive(berth_error **err);

#ifndef IMAGE_DL_IMPL
/* curl.h's type-checking wrappers call the functions by name */
#undef curl_easy_setopt
#undef curl_easy_getinfo
#define IMAGE_DL_CALL(f)         image_dl.f
#define curl_global_init(...)    IMAGE_DL_CALL(curl_global_init)(__VA_ARGS__)
#define curl_easy_init(...)      IMAGE_DL_CALL(curl_easy_init)(__VA_ARGS__)
#define curl_easy_setopt(...)    IMAGE_DL_CALL(curl_easy_setopt)(__VA_ARGS__)
#define curl_easy_perform(...)   IMAGE_DL_CALL(curl_easy_perform)(__VA_ARGS__)
#define curl_easy_cleanup(...)   IMAGE_DL_CALL(curl_easy_cleanup)(__VA_ARGS__)
#define curl_easy_strerror(...)  IMAGE_DL_CALL(curl_easy_strerror)(__VA_ARGS__)
#define curl_easy_escape(...)    IMAGE_DL_CALL(curl_easy_escape)(__VA_ARGS__)
#define curl_free(...)           IMAGE_DL_CALL(curl_free)(__VA_ARGS__)
#define curl_slist_append(...)   IMAGE_DL_CALL(curl_slist_append)(__VA_ARGS__)
#define curl_slist_free_all(...) IMAGE_DL_CALL(curl_slist_free_all)(__VA_ARGS__)
#define archive_read_new(...)    IMAGE_DL_CALL(archive_read_new)(__VA_ARGS__)
#define archive_read_free(...)   IMAGE_DL_CALL(archive_read_free)(__VA_ARGS__)
#define archive_read_support_filter_gzip(...)                                                      \
    IMAGE_DL_CALL(archive_read_support_filter_gzip)(__VA_ARGS__)
#define archive_read_support_filter_zstd(...)                                                      \
    IMAGE_DL_CALL(archive_read_support_filter_zstd)(__VA_ARGS__)
#define archive_read_support_format_raw(...)                                                       \
    IMAGE_DL_CALL(archive_read_support_format_raw)(__VA_ARGS__)
#define archive_read_support_format_tar(...)                                                       \
    IMAGE_DL_CALL(archive_read_support_format_tar)(__VA_ARGS__)
#define archive_read_open(...)          IMAGE_DL_CALL(archive_read_open)(__VA_ARGS__)
#define archive_read_open_fd(...)       IMAGE_DL_CALL(archive_read_open_fd)(__VA_ARGS__)
#define archive_read_open_memory(...)   IMAGE_DL_CALL(archive_read_open_memory)(__VA_ARGS__)
#define archive_read_next_header(...)   IMAGE_DL_CALL(archive_read_next_header)(__VA_ARGS__)
#define archive_read_data(...)          IMAGE_DL_CALL(archive_read_data)(__VA_ARGS__)
#define archive_read_data_block(...)    IMAGE_DL_CALL(archive_read_data_block)(__VA_ARGS__)
#define archive_error_string(...)       IMAGE_DL_CALL(archive_error_string)(__VA_ARGS__)
#define archive_set_error(...)          IMAGE_DL_CALL(archive_set_error)(__VA_ARGS__)
#define archive_entry_pathname(...)     IMAGE_DL_CALL(archive_entry_pathname)(__VA_ARGS__)
#define archive_entry_filetype(...)     IMAGE_DL_CALL(archive_entry_filetype)(__VA_ARGS__)
#define archive_entry_perm(...)         IMAGE_DL_CALL(archive_entry_perm)(__VA_ARGS__)
#define archive_entry_uid(...)          IMAGE_DL_CALL(archive_entry_uid)(__VA_ARGS__)
#define archive_entry_gid(...)          IMAGE_DL_CALL(archive_entry_gid)(__VA_ARGS__)
#define archive_entry_size(...)         IMAGE_DL_CALL(archive_entry_size)(__VA_ARGS__)
#define archive_entry_hardlink(...)     IMAGE_DL_CALL(archive_entry_hardlink)(__VA_ARGS__)
#define archive_entry_symlink(...)      IMAGE_DL_CALL(archive_entry_symlink)(__VA_ARGS__)
#define archive_entry_rdevmajor(...)    IMAGE_DL_CALL(archive_entry_rdevmajor)(__VA_ARGS__)
#define archive_entry_rdevminor(...)    IMAGE_DL_CALL(archive_entry_rdevminor)(__VA_ARGS__)
#define archive_entry_atime(...)        IMAGE_DL_CALL(archive_entry_atime)(__VA_ARGS__)
#define archive_entry_atime_nsec(...)   IMAGE_DL_CALL(archive_entry_atime_nsec)(__VA_ARGS__)
#define archive_entry_atime_is_set(...) IMAGE_DL_CALL(archive_entry_atime_is_set)(__VA_ARGS__)
#define archive_entry_mtime(...)        IMAGE_DL_CALL(archive_entry_mtime)(__VA_ARGS__)
#define archive_entry_mtime_nsec(...)   IMAGE_DL_CALL(archive_entry_mtime_nsec)(__VA_ARGS__)
#define archive_entry_xattr_reset(...)  IMAGE_DL_CALL(archive_entry_xattr_reset)(__VA_ARGS__)
#define archive_entry_xattr_next(...)   IMAGE_DL_CALL(archive_entry_xattr_next)(__VA_ARGS__)
#endif
