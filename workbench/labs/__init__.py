"""Domain code the curricula import: frameworks (torch / MindSpore), remote_sensing, face."""
