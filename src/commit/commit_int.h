/*
 * commit_int.h: declarations shared by the files of src/commit/ and their
 * unit tests only. Nothing here is API; other modules include commit.h.
 */
#ifndef PV_COMMIT_INT_H
#define PV_COMMIT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * metrics.c: one call at the end of every group (committer thread):
 * n transactions, whether it committed, and util_mono_us() readings at the
 * group's start, just before COMMIT (0 if it never got there) and at its
 * end. Counts the group, its size, its COMMIT (fsync) time and its whole time.
 */
void commit_metrics_group(size_t n, bool committed, int64_t begin_us, int64_t commit_us,
    int64_t end_us);

#endif /* PV_COMMIT_INT_H */
