from . import controllers, models, report, tools, wizards
