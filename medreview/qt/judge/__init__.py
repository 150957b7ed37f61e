"""The app's LLM-judge screens: ``run_dialog.JudgeRunDialog`` starts, follows, cancels and
resumes judge runs in the background (settings form, consent, earlier runs, live progress)."""
