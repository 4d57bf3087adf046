"""nbgrader configuration for a student's account (not for the course directory).

Put it where the student's nbgrader finds it: ``~/.jupyter/nbgrader_config.py`` for one
account, or ``/etc/jupyter/nbgrader_config.py`` (or ``<env>/etc/jupyter/``) for every
account on a shared machine or JupyterHub image. It must agree with the course's
``nbgrader_config.py`` on two things:

- ``COURSE_ID``               the course id (default ``intro-dl``)
- ``NBGRADER_EXCHANGE_ROOT``  the exchange folder (default: nbgrader's own,
                              ``/usr/local/share/nbgrader/exchange``)

On JupyterHub every student may run under one OS account (a local-process spawner, a
shared container image); nbgrader then names each submission after that account. The
hub's ``JUPYTERHUB_USER`` is the student's own name, so it becomes the student id.

The course's JupyterHub (``deploy/jupyterhub/``) puts this whole folder on a student's
``JUPYTER_CONFIG_PATH``: with it come ``labconfig/page_config.json`` and
``jupyter_server_config.json``, which leave students nbgrader's student tools only
(Assignments, Validate) and hide formgrader, Create Assignment and the course list.
"""

import os

c = get_config()  # noqa: F821  (injected by traitlets when nbgrader loads this file)

c.CourseDirectory.course_id = os.environ.get("COURSE_ID", "intro-dl")
c.Exchange.root = os.environ.get("NBGRADER_EXCHANGE_ROOT", "/usr/local/share/nbgrader/exchange")
if os.environ.get("JUPYTERHUB_USER"):
    c.CourseDirectory.student_id = os.environ["JUPYTERHUB_USER"]
