/**
 * Standard fields of the Bigin modules the API note describes, for `validate`'s hints.
 *
 * @module
 */

/**
 * Standard fields of the modules the API note describes, for `validate`'s hints. Bigin accounts
 * can add custom fields, so a field not listed here is a warning, never an error.
 */
export const BIGIN_STANDARD_FIELDS: Record<string, { fields: string[]; required: string[] }> = {
  Pipelines: {
    fields: [
      "Deal_Name",
      "Sub_Pipeline",
      "Stage",
      "Closing_Date",
      "Amount",
      "Account_Name",
      "Account_Name.id",
      "Contact_Name",
      "Contact_Name.id",
      "Owner",
      "Owner.id",
      "Description",
      "id",
    ],
    required: ["Deal_Name", "Sub_Pipeline", "Stage"],
  },
  Contacts: {
    fields: [
      "Last_Name",
      "First_Name",
      "Email",
      "Mobile",
      "Account_Name",
      "Account_Name.id",
      "Owner",
      "Owner.id",
      "Description",
      "id",
    ],
    required: ["Last_Name"],
  },
  Accounts: {
    fields: ["Account_Name", "Phone", "Website", "Owner", "Owner.id", "Description", "id"],
    required: ["Account_Name"],
  },
};
