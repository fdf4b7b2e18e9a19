// Placeholder: this module is built out in its own files.
enum VirtQEMUModule {}
