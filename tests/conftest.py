import sys
from pathlib import Path

# Tests run from a checkout even if the packages were not pip-installed.
ROOT = Path(__file__).resolve().parents[1]
for pkg in ("aac_sim", "aac_policy", "aac_driver", "aac_bringup"):
    path = str(ROOT / "src" / pkg)
    if path not in sys.path:
        sys.path.insert(0, path)
