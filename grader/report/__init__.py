"""Ways to present a grading result: Gradescope JSON, JUnit XML, terminal tables."""
