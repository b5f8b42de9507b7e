# Demo data builders: models that setup/demo.py and the tests call, kept out of
# models/ (rebilling.voip.demo, and rebilling.demo's voice steps).
from . import rebilling_demo, rebilling_voip_demo
