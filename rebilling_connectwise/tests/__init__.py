from . import test_connectwise, test_fake_connectwise
