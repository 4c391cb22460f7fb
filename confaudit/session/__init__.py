"""The session directory format: manifest, phase markers, observation records and their writer, integrity checks."""
