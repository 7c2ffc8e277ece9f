/*
 * replay_main: runs a libFuzzer harness without libFuzzer, over every regular
 * file in the directory given as argv[1] (the seed corpus) and over a few
 * built-in inputs (empty, one byte, 4 KiB of 0xff), so the harnesses build
 * and run in every normal and sanitizer build (CTest *_replay).
 *
 * Each input is copied into a buffer of exactly its size, so AddressSanitizer
 * sees any read past the end. Every further argument is one more directory
 * (tests/fuzz/regress/<harness>: reproducers of fixed crashes). A missing
 * directory is not an error (a new harness may have no seeds yet). Exit 0
 * unless an input cannot be read; a crash or sanitizer report fails the test
 * by itself.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REPLAY_MAX_INPUT (16u << 20)

static void
run_copy(const uint8_t *data, size_t size)
{
	/* malloc(0) may return NULL; libFuzzer never passes NULL */
	uint8_t *buf = malloc(size ? size : 1);

	if (buf == NULL) {
		fprintf(stderr, "replay: out of memory\n");
		exit(1);
	}
	if (size > 0)
		memcpy(buf, data, size);
	LLVMFuzzerTestOneInput(buf, size);
	free(buf);
}

static int
run_file(const char *path)
{
	struct stat sb;
	uint8_t *buf;
	size_t got = 0;
	FILE *f;
	int rc = -1;

	if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
		return 0;   /* not a regular file: skip */
	if ((uint64_t)sb.st_size > REPLAY_MAX_INPUT) {
		fprintf(stderr, "replay: %s: larger than %u bytes, skipped\n", path, REPLAY_MAX_INPUT);
		return 0;
	}
	f = fopen(path, "rb");
	if (f == NULL) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	buf = malloc(sb.st_size > 0 ? (size_t)sb.st_size : 1);
	if (buf != NULL) {
		got = fread(buf, 1, (size_t)sb.st_size, f);
		if (got == (size_t)sb.st_size) {
			LLVMFuzzerTestOneInput(buf, got);
			rc = 1;
		} else {
			fprintf(stderr, "replay: %s: short read\n", path);
		}
	}
	free(buf);
	fclose(f);
	return rc;
}

/* Every regular file of one directory; -1 if one could not be read. */
static int
run_dir(const char *dir, int *n)
{
	char path[4096];
	struct dirent *de;
	DIR *d;
	int r, bad = 0;

	d = opendir(dir);
	if (d == NULL) {
		printf("replay: no corpus at %s\n", dir);
		return 0;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= (int)sizeof(path))
			continue;
		r = run_file(path);
		if (r > 0)
			(*n)++;
		else if (r < 0)
			bad++;
	}
	closedir(d);
	return bad ? -1 : 0;
}

int
main(int argc, char **argv)
{
	static const uint8_t one[1] = { 'x' };
	uint8_t ff[4096];
	int i, n = 0, bad = 0;

	memset(ff, 0xff, sizeof(ff));
	run_copy(one, 0);
	run_copy(one, sizeof(one));
	run_copy(ff, sizeof(ff));
	/* argv[1]: the seed corpus; argv[2..]: more (tests/fuzz/regress/<harness>) */
	for (i = 1; i < argc; i++)
		if (run_dir(argv[i], &n) != 0)
			bad++;
	printf("replay: %d corpus inputs and 3 built-in inputs ran\n", n);
	return bad ? 1 : 0;
}
