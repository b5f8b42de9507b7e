from . import test_connectwise
from . import test_connectwise_security
