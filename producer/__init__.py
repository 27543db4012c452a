"""The producer side: discover files, skip known blobs, chunk into byte-sized batches, enqueue."""
