"""Multi-marker signatures page: nested-CV model runs on the analysis frame, stored so they can be re-run."""
