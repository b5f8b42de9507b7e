from . import controllers, demo, models, report, tools, wizards
