"""Label printers per site or bench, the print queue, and printing sample and storage labels."""
