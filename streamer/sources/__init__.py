"""Audio sources: live sound cards, sound files and raw samples on stdin, all feeding a ring buffer."""
