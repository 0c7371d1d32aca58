"""``python -m train.synth --out DIR --n N --seed S [--soundfont SF2 ...] [--workers K]``."""

import sys

from train.synth.cli import main

sys.exit(main())
