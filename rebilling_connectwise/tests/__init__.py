from . import test_connectwise, test_connectwise_security
