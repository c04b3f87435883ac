"""The curate job's library: pure DataFrame transforms and Glue I/O (shipped as --extra-py-files)."""
