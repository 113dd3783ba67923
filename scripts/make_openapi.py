"""Write openapi.yaml from the code (faceanon_tools.openapi_spec). Usage: .venv/bin/python scripts/make_openapi.py"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "functions")]

from faceanon_tools.openapi_spec import render  # noqa: E402

if __name__ == "__main__":
    (ROOT / "openapi.yaml").write_text(render())
    print(f"wrote {ROOT / 'openapi.yaml'}")
