"""The only code that talks to AWS: DynamoDB (PynamoDB), KMS, SNS, Pinpoint SMS Voice."""
