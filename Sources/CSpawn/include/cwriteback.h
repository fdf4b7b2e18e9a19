#ifndef SWIFTVIRT_CWRITEBACK_H
#define SWIFTVIRT_CWRITEBACK_H

#ifdef __cplusplus
extern "C" {
#endif

/// Starts writeback of the dirty pages of the whole file behind `fd` (sync_file_range with
/// SYNC_FILE_RANGE_WRITE): asynchronous, and the pages stay in the page cache. 0, or -1 with errno set.
int swiftvirt_start_writeback(int fd);

#ifdef __cplusplus
}
#endif

#endif
