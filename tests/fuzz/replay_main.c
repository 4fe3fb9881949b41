/* Replay a fuzz target's inputs without libFuzzer (any compiler): every
 * file named on the command line, and every file directly inside every
 * directory named, in name order, through LLVMFuzzerTestOneInput once each.
 * A crash is the test failing; the input that caused it is the last one
 * named on stderr. Exits 1 when there was nothing to replay: an empty or
 * missing corpus is a mistake, not a pass.
 *
 *   fuzz-replay-frame tests/fuzz/corpus/frame [crash-1234 ...] */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/cleanup.h"
#include "base/io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* libFuzzer's own default for -max_len is far below this; corpus files
 * are tiny. */
#define INPUT_MAX ((size_t)16 << 20)

static int run_file(const char *path)
{
    _cleanup_free_ char *text = NULL;
    _cleanup_free_ uint8_t *copy = NULL;
    berth_error *err = NULL;
    size_t len = 0;

    if (berth_read_file_at(AT_FDCWD, path, INPUT_MAX, &text, &len, &err) < 0) {
        fprintf(stderr, "replay: %s\n", err->msg);
        berth_error_free(&err);
        return -1;
    }
    /* Exactly len bytes, so a read past the input is caught by ASan. */
    copy = malloc(len ? len : 1);
    if (!copy) {
        fprintf(stderr, "replay: %s: out of memory\n", path);
        return -1;
    }
    memcpy(copy, text, len);
    fprintf(stderr, "replay: %s (%zu bytes)\n", path, len);
    LLVMFuzzerTestOneInput(copy, len);
    return 0;
}

static int visible(const struct dirent *de)
{
    return de->d_name[0] != '.';
}

/* Every regular file directly in dir; returns how many ran, -1 on error. */
static int run_dir(const char *dir)
{
    struct dirent **names = NULL;
    int n = scandir(dir, &names, visible, alphasort), ran = 0, ret = 0;

    if (n < 0) {
        perror(dir);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        _cleanup_free_ char *path = NULL;
        struct stat st;

        if (ret == 0 && asprintf(&path, "%s/%s", dir, names[i]->d_name) < 0)
            ret = -1;
        if (ret == 0 && stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            if (run_file(path) < 0)
                ret = -1;
            else
                ran++;
        }
        free(names[i]);
    }
    free(names);
    return ret < 0 ? -1 : ran;
}

int main(int argc, char **argv)
{
    int total = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR|FILE...\n", argv[0]);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        struct stat st;
        int n;

        if (stat(argv[i], &st) < 0) {
            perror(argv[i]);
            return 1;
        }
        n = S_ISDIR(st.st_mode) ? run_dir(argv[i]) : run_file(argv[i]) < 0 ? -1 : 1;
        if (n < 0)
            return 1;
        total += n;
    }
    if (total == 0) {
        fprintf(stderr, "replay: no inputs found\n");
        return 1;
    }
    printf("replayed %d inputs\n", total);
    return 0;
}
