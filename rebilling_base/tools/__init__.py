from . import transient
