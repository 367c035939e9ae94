"""`python -m complaints.cli`: the same as the `complaints` console script."""

from complaints.cli import app

app()
