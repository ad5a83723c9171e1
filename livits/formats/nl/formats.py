# Dates as the manual prints them (its report: "22-5-2017 13:59"), everywhere.
DATE_FORMAT = "j-n-Y"
TIME_FORMAT = "H:i"
DATETIME_FORMAT = "j-n-Y H:i"
SHORT_DATE_FORMAT = "j-n-Y"
SHORT_DATETIME_FORMAT = "j-n-Y H:i"
DATE_INPUT_FORMATS = ["%d-%m-%Y", "%Y-%m-%d"]
DATETIME_INPUT_FORMATS = ["%d-%m-%Y %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"]
FIRST_DAY_OF_WEEK = 1
