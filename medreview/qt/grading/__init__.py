"""The grading workstation: queue, case and answer views, rubric panel, controller."""
