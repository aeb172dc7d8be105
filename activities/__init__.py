"""Every side effect lives in an activity: database writes, rendering, email, S3, audit."""
