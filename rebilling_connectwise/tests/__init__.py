from . import test_connectwise
