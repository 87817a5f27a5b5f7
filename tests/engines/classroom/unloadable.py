"""A submission that cannot even be imported: the check must say so in one line and go on."""

raise RuntimeError("this submission breaks on import\x1b[31m (and tries to colour the terminal)")
