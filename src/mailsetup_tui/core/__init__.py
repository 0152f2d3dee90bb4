"""The engine: no Textual import anywhere below here, so scripts and the API stay light."""
