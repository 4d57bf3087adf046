"""JupyterHub for the course: students submit through nbgrader's exchange, one OS user each.

Start it as root (it must switch to each student's account) from the course's environment,
so that ``jupyterhub``, ``jupyterhub-singleuser``, ``nbgrader`` and ``alembic`` are all in
its ``bin`` folder, with ``configurable-http-proxy`` (npm) on PATH::

    sudo COURSE_HUB_STUDENTS=ann,ben COURSE_HUB_INSTRUCTORS=prof \\
        .venv/bin/jupyterhub -f deploy/jupyterhub/jupyterhub_config.py

What this file decides, and why (deploy/jupyterhub/README.md has the whole set-up):

- **Who is who.** The spawner runs each hub user's server as the OS account of the same
  name (``LocalProcessSpawner``). Students must not share an account: nbgrader's cache of
  submissions lives in the home folder, and ``fetch_feedback`` hands out whatever feedback
  matches a cached submission, so two students in one home see each other's feedback.
  The students' nbgrader configuration (``deploy/student/``) still takes the student id
  from ``JUPYTERHUB_USER`` and not from the OS account, so that a spawner that runs every
  container as one uid (DockerSpawner, KubeSpawner with a fixed uid) files submissions
  under the right name; such spawners keep students apart by giving each a volume of
  their own as home.
- **Authenticator.** ``COURSE_HUB_TEST_PASSWORD`` set: JupyterHub's dummy authenticator
  with that one password (tests only, and only on 127.0.0.1). Unset: PAM, i.e. the
  accounts' own passwords. An instructor swaps in the university's login here (for
  example ``oauthenticator.GenericOAuthenticator`` or ``ldapauthenticator``).
- **PATH.** Every server gets the environment's ``bin`` first: ``nbgrader
  generate_assignment`` (formgrader's "Generate" button) runs ``alembic`` by name.
- **Students see the student tools only.** Their servers get ``deploy/student/`` on
  ``JUPYTER_CONFIG_PATH``: the student nbgrader configuration and a lab page config that
  hides formgrader and "Create Assignment".
"""

import os
import sys

c = get_config()  # noqa: F821  (injected by traitlets when JupyterHub loads this file)

HERE = os.path.dirname(os.path.abspath(__file__))
STUDENT_CONFIG = os.path.join(os.path.dirname(HERE), "student")
BIN = os.path.dirname(os.path.abspath(sys.executable))   # the environment the hub runs from


def _names(variable):
    return [n.strip() for n in os.environ.get(variable, "").split(",") if n.strip()]


STUDENTS = _names("COURSE_HUB_STUDENTS")
INSTRUCTORS = _names("COURSE_HUB_INSTRUCTORS")
IP = os.environ.get("COURSE_HUB_IP", "")          # "" = every interface
PORT = int(os.environ.get("COURSE_HUB_PORT", "8000"))
STATE = os.environ.get("COURSE_HUB_STATE_DIR", "/srv/jupyterhub")

# Where users connect (the proxy), where the hub's API listens, where the proxy's API does:
# three ports in a row, so that two hubs on one machine (a test beside a real one) never meet.
c.JupyterHub.bind_url = f"http://{IP or ''}:{PORT}"
c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{PORT + 1}"
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{PORT + 2}"
c.ConfigurableHTTPProxy.pid_file = os.path.join(STATE, "proxy.pid")
c.JupyterHub.db_url = "sqlite:///" + os.path.join(STATE, "jupyterhub.sqlite")
c.JupyterHub.cookie_secret_file = os.path.join(STATE, "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = os.path.join(STATE, "jupyterhub.pid")

if os.environ.get("COURSE_HUB_TEST_PASSWORD"):
    c.JupyterHub.authenticator_class = "dummy"
    c.DummyAuthenticator.password = os.environ["COURSE_HUB_TEST_PASSWORD"]
c.Authenticator.allowed_users = set(STUDENTS) | set(INSTRUCTORS)
c.Authenticator.admin_users = set(INSTRUCTORS)

c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [os.path.join(BIN, "jupyterhub-singleuser")]
c.Spawner.ip = "127.0.0.1"
c.Spawner.default_url = "/lab"
c.Spawner.notebook_dir = "~"
c.Spawner.start_timeout = 180       # a busy machine starts JupyterLab slowly
c.Spawner.http_timeout = 180
c.Spawner.environment = {
    "PATH": os.pathsep.join([BIN, os.environ.get("PATH", "/usr/bin:/bin")]),
    "COURSE_ID": os.environ.get("COURSE_ID", "intro-dl"),
    "NBGRADER_EXCHANGE_ROOT": os.environ.get("NBGRADER_EXCHANGE_ROOT",
                                             "/usr/local/share/nbgrader/exchange"),
}


def student_tools_only(spawner):
    """A student's server reads deploy/student/ (student id, hidden instructor tools)."""
    if spawner.user.name not in INSTRUCTORS:
        spawner.environment = {**spawner.environment, "JUPYTER_CONFIG_PATH": STUDENT_CONFIG}


c.Spawner.pre_spawn_hook = student_tools_only
