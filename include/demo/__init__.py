"""Demo content: a small service with four real defects and the four ADO work items that report them."""
