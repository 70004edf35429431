# The least-privilege policy cloudroutes ships (iam-policy.json beside this file), filled in for this
# cluster and VPC: route writes only in tables tagged for the cluster, tag writes only of the
# cloudroutes.io/* keys on instances tagged for the cluster, the forwarding flag only on interfaces
# of this VPC. Attach it to whatever runs `cloudroutes apply`.
resource "aws_iam_policy" "cloudroutes" {
  name = "cloudroutes-${var.cluster}"
  policy = templatefile("${path.module}/iam-policy.json", {
    cluster_name = var.cluster
    vpc_id       = aws_vpc.main.id
  })
}

# The role a controller instance runs `cloudroutes apply` under: EC2 may assume it, it holds the
# policy above and nothing else, and the instance profile hands it to an instance
# (aws_instance.iam_instance_profile). A CI runner assumes a role of its own (OIDC) holding the
# same policy.
resource "aws_iam_role" "cloudroutes" {
  name = "cloudroutes-${var.cluster}"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "ec2.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

resource "aws_iam_role_policy_attachment" "cloudroutes" {
  role       = aws_iam_role.cloudroutes.name
  policy_arn = aws_iam_policy.cloudroutes.arn
}

resource "aws_iam_instance_profile" "cloudroutes" {
  name = "cloudroutes-${var.cluster}"
  role = aws_iam_role.cloudroutes.name
}

output "instance_profile" {
  description = "Give it to the instance that runs cloudroutes: aws_instance.iam_instance_profile."
  value       = aws_iam_instance_profile.cloudroutes.name
}
