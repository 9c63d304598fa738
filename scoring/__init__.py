"""Score a whole book of applicant records from files: in one streaming process, or on Spark."""
