"""Porchlight in a child process, configured only by the environment an operator gives it.

The test process's own ``PORCHLIGHT_*`` variables and ``DATABASE_URL`` (the PostgreSQL run sets
one) are left out, so a child sees the embedded defaults plus what the test names.
"""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def clean_environment(var_dir: Path, **variables: str) -> dict[str, str]:
    """Return this process's environment without Porchlight's settings, with ``variables`` added.

    ``PORCHLIGHT_VAR_DIR`` is ``var_dir``, so the child's secret key, SQLite database and metrics
    files stay in the test's own folder.
    """
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("PORCHLIGHT_") and name not in ("DATABASE_URL", "PROMETHEUS_MULTIPROC_DIR")
    }
    env.update(PORCHLIGHT_VAR_DIR=str(var_dir), **variables)
    return env


def load_settings(
    var_dir: Path, expression: str = "settings.DATABASES['default']['ENGINE']", **variables: str
) -> subprocess.CompletedProcess:
    """Load the settings in a child process with ``variables`` set; it prints ``expression``."""
    env = clean_environment(var_dir, DJANGO_SETTINGS_MODULE="porchlight.settings", **variables)
    code = f"import django; django.setup(); from django.conf import settings; print({expression})"
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
