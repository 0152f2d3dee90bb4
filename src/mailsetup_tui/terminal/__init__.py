"""Terminal output: what Textual writes, made fit for slow lines and limited terminals."""
