import sys
from pathlib import Path

# tests/conftest_faces.py holds the helpers shared with the top-level photo tests.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
