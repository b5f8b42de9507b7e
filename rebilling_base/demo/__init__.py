# Demo data builders (model rebilling.demo), called by demo/rebilling_demo.xml and setup/demo.py.
from . import rebilling_demo
