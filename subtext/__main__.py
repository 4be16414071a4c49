import os
import sys

# onnxruntime phones home unless told not to; set it before any analyzer can import it.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

from subtext.cli import main  # noqa: E402

sys.exit(main())
