"""The coordinators' workspace: accounts, the access log, the pages behind the front door."""
