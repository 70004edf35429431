# The custom role cloudroutes ships (cloudroutes-role.yaml beside this file, the same file
# `gcloud iam roles create --file` takes): exactly the permissions cloudroutes uses. Grant it to the
# service account that runs `cloudroutes apply`.
locals {
  cloudroutes_role = yamldecode(file("${path.module}/cloudroutes-role.yaml"))
}

resource "google_project_iam_custom_role" "cloudroutes" {
  project     = var.project
  role_id     = "cloudroutes"
  title       = local.cloudroutes_role.title
  description = local.cloudroutes_role.description
  stage       = local.cloudroutes_role.stage
  permissions = local.cloudroutes_role.includedPermissions
}
