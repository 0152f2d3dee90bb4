"""The Textual form over the core: screens and widgets that talk by messages."""
