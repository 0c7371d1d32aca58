"""Front-end views: log-Mel and cochleagram, offline and streaming."""
