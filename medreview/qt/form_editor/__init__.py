"""The rubric and taxonomy editor, and the grading-guidelines pane of the grading window."""
