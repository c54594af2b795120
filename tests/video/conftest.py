import sys
from pathlib import Path

# tests/conftest_faces.py and conftest_video.py hold the helpers shared with the other tests.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
