from . import rebilling_call_list_xlsx
