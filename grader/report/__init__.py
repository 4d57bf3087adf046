"""Presentation, in one place: everything a person reads about a grading.

Terminal tables (``table``), JUnit XML (``junit``), Gradescope's results.json
(``gradescope``), Markdown job summaries (``markdown``), what a student's feedback shows
under an answer (``feedback``) and its pictures (``pictures``), the class report's files
(``class_report``). It reads ``grader.results`` and nothing else of the package.
"""
