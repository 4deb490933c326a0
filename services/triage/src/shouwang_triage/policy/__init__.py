"""The grading policy shipped with triage (`grading-policy.yaml`) and its graded examples."""
